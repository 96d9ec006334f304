#ifndef CKPT_CHDF5_SHIM_H
#define CKPT_CHDF5_SHIM_H
#include <hdf5.h>

/* HDF5 spells many constants as macros that call functions or cast; they do not import
   into Swift. These accessors, prefixed ckpt_, return the same values. */

static inline hid_t ckpt_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t ckpt_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned ckpt_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned ckpt_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned ckpt_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned ckpt_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline hid_t ckpt_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t ckpt_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t ckpt_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t ckpt_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hid_t ckpt_H5P_DATASET_XFER(void) { return H5P_DATASET_XFER; }
static inline hid_t ckpt_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t ckpt_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t ckpt_H5P_ATTRIBUTE_CREATE(void) { return H5P_ATTRIBUTE_CREATE; }

static inline hid_t ckpt_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t ckpt_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t ckpt_H5T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t ckpt_H5T_STD_I16LE(void) { return H5T_STD_I16LE; }
static inline hid_t ckpt_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t ckpt_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t ckpt_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t ckpt_H5T_STD_U16LE(void) { return H5T_STD_U16LE; }
static inline hid_t ckpt_H5T_STD_U32LE(void) { return H5T_STD_U32LE; }
static inline hid_t ckpt_H5T_STD_U64LE(void) { return H5T_STD_U64LE; }
static inline hid_t ckpt_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t ckpt_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t ckpt_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t ckpt_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t ckpt_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t ckpt_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t ckpt_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t ckpt_H5T_C_S1(void) { return H5T_C_S1; }
static inline size_t ckpt_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hsize_t ckpt_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline int ckpt_H5Z_CLASS_T_VERS(void) { return H5Z_CLASS_T_VERS; }
static inline unsigned ckpt_H5Z_FLAG_OPTIONAL(void) { return H5Z_FLAG_OPTIONAL; }
static inline unsigned ckpt_H5Z_FLAG_MANDATORY(void) { return H5Z_FLAG_MANDATORY; }
static inline unsigned ckpt_H5Z_FLAG_REVERSE(void) { return H5Z_FLAG_REVERSE; }
static inline unsigned ckpt_H5O_TYPE_DATASET(void) { return H5O_TYPE_DATASET; }

/* Silences HDF5's automatic error-stack printing; ckpt reports its own one-line errors. */
static inline void ckpt_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
/* The calling thread's error stack (H5E_DEFAULT), for reading why a call failed. */
static inline hid_t ckpt_H5E_DEFAULT(void) { return H5E_DEFAULT; }
/* Every open object of every file (for H5Fget_obj_count: leak checks). */
static inline unsigned ckpt_H5F_OBJ_ALL(void) { return H5F_OBJ_ALL; }

#endif
