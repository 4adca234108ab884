#include "ctorch.h"
extern "C" int pt_placeholder(void) { return 0; }
