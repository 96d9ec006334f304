#ifndef CKPT_CXXHASH_SHIM_H
#define CKPT_CXXHASH_SHIM_H
#include <xxhash.h>
#endif
