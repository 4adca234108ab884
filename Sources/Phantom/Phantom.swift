// PhantomCXR.
