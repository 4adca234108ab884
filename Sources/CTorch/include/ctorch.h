#pragma once
#ifdef __cplusplus
extern "C" {
#endif
int pt_placeholder(void);
#ifdef __cplusplus
}
#endif
