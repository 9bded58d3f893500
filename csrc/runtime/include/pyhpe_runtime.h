/* pyhpe runtime: head pose from an image and a face box with ncnn, as a small C API.
 *
 *   pyhpe_options opt;
 *   if (pyhpe_options_from_sidecar("m4.ncnn.json", &opt) != PYHPE_OK)   // the export's model card
 *       fprintf(stderr, "%s\n", pyhpe_last_error());
 *   opt.num_threads = 2;
 *   pyhpe_model* m = NULL;
 *   if (pyhpe_model_load("m4.ncnn.param", "m4.ncnn.bin", &opt, &m) != PYHPE_OK)
 *       fprintf(stderr, "%s\n", pyhpe_last_error());
 *   float box[4] = {x0, y0, x1, y1};
 *   pyhpe_pose pose;
 *   pyhpe_infer(m, pixels, width, height, stride, PYHPE_PIXEL_RGB, box, &pose);
 *   pyhpe_model_free(m);
 *
 * The model's facts travel with it: `pyhpe export` writes a sidecar <stem>.ncnn.json beside
 * <stem>.ncnn.param (and <stem>.fused.ncnn.json beside the fused pair), and
 * pyhpe_options_from_sidecar reads from it the input size, the input and output blobs, the output
 * kind, the crop and the normalisation. pyhpe_options_default instead gives 6DRepNet's setting
 * (input 224, 6D output "out0" from "in0", margin 0.2, resize 256, ImageNet mean/std); any field
 * may be set by hand.
 *
 * Preprocessing (pyhpe_infer, pyhpe_preprocess), crop kind PYHPE_CROP_MARGIN_BOX: the face box
 * (x0, y0, x1, y1), w = x1 - x0, h = y1 - y0, is widened with k = crop_margin, its edges moved
 * in order as 6DRepNet's test crop does: x0 -= 2k w, y0 -= 2k h, x1 += 2k (x1 - x0),
 * y1 += 0.6k (y1 - y0) (x0, y0 the moved edges), each truncated towards zero; pixels outside the
 * image are black (PYHPE_CROP_NONE: the box as given; no box: the whole image). The crop's
 * shorter side is then resized (bilinear) to
 * max(S, round(S * crop_resize / 224)), the centre S x S is cut, and each channel becomes
 * (value / 255 - mean[c]) / std[c] (RGB order). Post-processing: the native Gram-Schmidt and
 * Euler kernels of csrc/include/pyhpe (NEON on aarch64).
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

typedef enum pyhpe_crop_kind {
  PYHPE_CROP_MARGIN_BOX = 0, /* the card's "margin_box": 6DRepNet's test crop (see above) */
  PYHPE_CROP_NONE = 1        /* the card's "none": the box as given (k = 0) */
} pyhpe_crop_kind;

typedef struct pyhpe_options {
  int input_size;          /* network input side S (the sidecar's card "input_size") */
  int output_kind;         /* pyhpe_output_kind (the sidecar's graph output "sixd" or "R") */
  int num_threads;         /* >= 1 */
  int precision;           /* pyhpe_precision */
  char input_blob[64];     /* "in0" for pnnx exports (the sidecar's "input_name") */
  char output_blob[64];    /* "out0" for pnnx exports (the sidecar's graph output "blob") */
  /* Preprocessing of pyhpe_infer (the sidecar's card "crop" and "normalize"). */
  int crop_kind;           /* pyhpe_crop_kind */
  double crop_margin;      /* k, in [0, 1]; default 0.2 */
  int crop_resize;         /* shorter side -> max(S, round(S * crop_resize / 224)), in [224, 4096]; default 256 */
  float mean[3];           /* RGB, of values scaled to [0, 1]; default ImageNet's */
  float std[3];            /* RGB, > 0 */
} pyhpe_options;

typedef struct pyhpe_pose {
  float sixd[6];       /* first two matrix columns: R00 R10 R20 R01 R11 R21 */
  float R[9];          /* rotation head -> camera, row-major */
  float euler_deg[3];  /* pitch, yaw, roll in degrees, R = Rz(roll) Ry(yaw) Rx(pitch) */
} pyhpe_pose;

typedef struct pyhpe_model pyhpe_model;

void pyhpe_options_default(pyhpe_options* options);
/* Options of the model whose export sidecar (<stem>.ncnn.json, format "pyhpe-deploy", version 2,
 * or version 1 with margin 0.2 and resize 256) is json_path: pyhpe_options_default, then the
 * sidecar's input size, blobs, output kind (its first graph output named "sixd" or "R"), crop and
 * normalisation; fields the format lets out take the defaults pyhpe's Python reader gives them.
 * Fails with PYHPE_ERR_IO for a missing file and PYHPE_ERR_MODEL for malformed JSON, another
 * format, an unknown version or an invalid field (pyhpe_last_error names the file and the
 * field); *out is then unchanged. */
pyhpe_status pyhpe_options_from_sidecar(const char* json_path, pyhpe_options* out);
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
/* The network input pyhpe_infer computes (crop, resize, normalisation of `options`): writes
 * 3 x S x S float32 values, planar RGB, to out_chw. */
pyhpe_status pyhpe_preprocess(const pyhpe_options* options, const uint8_t* pixels, int width, int height,
                              int stride_bytes, int pixel_format, const float* box, float* out_chw);

#ifdef __cplusplus
}
#endif

#endif /* PYHPE_RUNTIME_H */
