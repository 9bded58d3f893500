/* pyhpe runtime: head pose from an image and a face box with ncnn, as a small C API.
 *
 *   pyhpe_options opt;  pyhpe_options_default(&opt);   // input 224, 6D output, fp32, 1 thread
 *   pyhpe_model* m = NULL;
 *   if (pyhpe_model_load("m4.ncnn.param", "m4.ncnn.bin", &opt, &m) != PYHPE_OK)
 *       fprintf(stderr, "%s\n", pyhpe_last_error());
 *   float box[4] = {x0, y0, x1, y1};
 *   pyhpe_pose pose;
 *   pyhpe_infer(m, pixels, width, height, stride, PYHPE_PIXEL_RGB, box, &pose);
 *   pyhpe_model_free(m);
 *
 * Preprocessing: 6DRepNet's test crop of the box (margin k = 0.2), resize of the shorter side to
 * round(S*256/224) (bilinear), centre crop S x S, ImageNet normalisation. Post-processing: the
 * native Gram-Schmidt and Euler kernels of csrc/include/pyhpe (NEON on aarch64).
 * Every function returns a pyhpe_status; on failure pyhpe_last_error() (per thread) says why.
 * A model may be used by one thread at a time.
 */
#ifndef PYHPE_RUNTIME_H
#define PYHPE_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pyhpe_status {
  PYHPE_OK = 0,
  PYHPE_ERR_ARGUMENT = 1,   /* a NULL pointer, bad size, box or option */
  PYHPE_ERR_IO = 2,         /* a file is missing or unreadable */
  PYHPE_ERR_MODEL = 3,      /* not an ncnn model, a layer this build lacks, wrong blob names */
  PYHPE_ERR_INFERENCE = 4,  /* ncnn failed, or the output has the wrong size */
  PYHPE_ERR_MEMORY = 5
} pyhpe_status;

typedef enum pyhpe_pixel_format {
  PYHPE_PIXEL_RGB = 0,
  PYHPE_PIXEL_BGR = 1,
  PYHPE_PIXEL_RGBA = 2,
  PYHPE_PIXEL_BGRA = 3
} pyhpe_pixel_format;

typedef enum pyhpe_precision {
  PYHPE_PRECISION_FP32 = 0, /* every fp16 path off: matches PyTorch within 1e-4 */
  PYHPE_PRECISION_FP16 = 1  /* ncnn's fp16 storage/arithmetic where the CPU has it */
} pyhpe_precision;

typedef enum pyhpe_output_kind {
  PYHPE_OUTPUT_6D = 0,     /* the graph returns 6 values (pyhpe export --output-6d) */
  PYHPE_OUTPUT_MATRIX = 1  /* the graph returns the 3x3 matrix (--output-matrix) */
} pyhpe_output_kind;

typedef struct pyhpe_options {
  int input_size;          /* network input side S (the export's sidecar "input_size") */
  int output_kind;         /* pyhpe_output_kind */
  int num_threads;         /* >= 1 */
  int precision;           /* pyhpe_precision */
  char input_blob[64];     /* "in0" for pnnx exports */
  char output_blob[64];    /* "out0" for pnnx exports */
} pyhpe_options;

typedef struct pyhpe_pose {
  float sixd[6];       /* first two matrix columns: R00 R10 R20 R01 R11 R21 */
  float R[9];          /* rotation head -> camera, row-major */
  float euler_deg[3];  /* pitch, yaw, roll in degrees, R = Rz(roll) Ry(yaw) Rx(pitch) */
} pyhpe_pose;

typedef struct pyhpe_model pyhpe_model;

void pyhpe_options_default(pyhpe_options* options);
const char* pyhpe_status_string(pyhpe_status status);
/* The message of the last failure on this thread ("" if none). */
const char* pyhpe_last_error(void);
/* Build facts, e.g. "ncnn 1.0.20261020; aarch64 NEON; fp16 arithmetic available". */
const char* pyhpe_build_info(void);

pyhpe_status pyhpe_model_load(const char* param_path, const char* bin_path,
                              const pyhpe_options* options, pyhpe_model** out_model);
void pyhpe_model_free(pyhpe_model* model);
/* Reloads the weights when the count changes (ncnn packs them per thread count at load). */
pyhpe_status pyhpe_model_set_threads(pyhpe_model* model, int num_threads);
/* Reloads the weights (ncnn packs them for the chosen precision at load time). */
pyhpe_status pyhpe_model_set_precision(pyhpe_model* model, int precision);
pyhpe_status pyhpe_model_get_options(const pyhpe_model* model, pyhpe_options* out);

/* Pose of the face in box (x0, y0, x1, y1; NULL: the whole image is the face crop already). */
pyhpe_status pyhpe_infer(pyhpe_model* model, const uint8_t* pixels, int width, int height,
                         int stride_bytes, int pixel_format, const float* box, pyhpe_pose* out);
/* Pose from a preprocessed input: 3 x S x S float32, planar, normalised. */
pyhpe_status pyhpe_infer_tensor(pyhpe_model* model, const float* chw, pyhpe_pose* out);

#ifdef __cplusplus
}
#endif

#endif /* PYHPE_RUNTIME_H */
