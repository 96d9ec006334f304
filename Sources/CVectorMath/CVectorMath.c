/* CVectorMath is header-only (static inline functions in include/CVectorMath.h); SwiftPM needs
   one translation unit per C target. */
#include "CVectorMath.h"
