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
 *
 * 6DoF models (TRGv2, the sidecar's card task "trgv2_6dof", model_kind PYHPE_MODEL_6DOF): the graph
 * takes the crop and a camera vector of 11 numbers (pyhpe/tasks/trgv2_6dof.py CAMERA_LAYOUT: the
 * crop box left, top, right, bottom, f, H, W in full-image pixels, then fx, fy, cx, cy of the crop)
 * and returns the 6D rotation, the correction (s, τ̃x, τ̃y), the vertices (V x 3, head frame,
 * metres) and 68 landmarks (crop pixels):
 *
 *   float verts[3 * 1220], lmk[68 * 2];
 *   pyhpe_pose6dof pose = {0};
 *   pose.vertices = verts; pose.vertices_capacity = 1220; pose.landmarks = lmk;  // or NULL
 *   float K[4] = {fx, fy, cx, cy};                                           // or NULL: unknown
 *   pyhpe_infer_6dof(m, pixels, width, height, stride, PYHPE_PIXEL_RGB, box, K, &pose);
 *   // pose.R, pose.t (metres, x_cam = R v + t), pose.num_vertices
 *
 * Its crop (crop kind PYHPE_CROP_LANDMARK_BOX) is pyhpe's evaluation crop of TRGv2
 * (pyhpe/data/sixdof_crop.py): the box (the face's landmark extent, or a detector's box standing
 * for it) squared to side (1 + crop_margin) * max(w, h) about its centre; convention
 * PYHPE_CONVENTION_PYHPE: top-left corner truncated, side rounded, the crop cut with black outside
 * the image and resized to S (area averaging when shrinking, bilinear when enlarging, as OpenCV's
 * INTER_AREA / INTER_LINEAR), K_crop with integer pixel centres; PYHPE_CONVENTION_OFFICIAL (the
 * released TRGv2 code, for converted models): each corner truncated, the image warped bilinearly
 * so the corners land on 0..S-1, K_crop scaled by S/b. Unknown intrinsics: f = W + H, principal
 * point ((W - 1)/2, (H - 1)/2). Post-processing (csrc/include/pyhpe/sixdof_math.h): R by
 * Gram-Schmidt, t by Eq. 3 in the card's form (paper: τ from the principal point recovered from
 * K_crop, τ̃ in units of b; official: τ from (W/2, H/2), τ̃ in units of b/2; face size 0.2 m).
 *
 * Every function returns a pyhpe_status; on failure pyhpe_last_error() (per thread) says why.
 * A model may be used by one thread at a time.
 */
#ifndef PYHPE_RUNTIME_H
#define PYHPE_RUNTIME_H

#include <stddef.h>
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

/* docs/deployment.md, "Precision": what each one changes on which CPU, and its measured pose error. */
typedef enum pyhpe_precision {
  PYHPE_PRECISION_FP32 = 0, /* every fp16/bf16 path off: matches PyTorch within 1e-4 */
  PYHPE_PRECISION_FP16 = 1, /* ncnn's fp16 storage/arithmetic where the CPU has it (ARMv8.2 fp16;
                               on x86 ncnn keeps fp32 blobs) */
  PYHPE_PRECISION_BF16 = 2  /* ncnn's bf16 storage (fp32 arithmetic), where ncnn was built with
                               NCNN_BF16 (pyhpe_build_info says); otherwise the same as FP32 */
} pyhpe_precision;

typedef enum pyhpe_output_kind {
  PYHPE_OUTPUT_6D = 0,     /* the graph returns 6 values (pyhpe export --output-6d) */
  PYHPE_OUTPUT_MATRIX = 1  /* the graph returns the 3x3 matrix (--output-matrix) */
} pyhpe_output_kind;

typedef enum pyhpe_crop_kind {
  PYHPE_CROP_MARGIN_BOX = 0,  /* the card's "margin_box": 6DRepNet's test crop (see above) */
  PYHPE_CROP_NONE = 1,        /* the card's "none": the box as given (k = 0) */
  PYHPE_CROP_LANDMARK_BOX = 2 /* the card's "landmark_box": TRGv2's square (1 + k) box (6DoF models) */
} pyhpe_crop_kind;

typedef enum pyhpe_model_kind {
  PYHPE_MODEL_ROTATION = 0, /* image -> rotation (card task "sixd_rotation"): pyhpe_infer */
  PYHPE_MODEL_6DOF = 1      /* image + camera vector -> 6DoF (card task "trgv2_6dof"): pyhpe_infer_6dof */
} pyhpe_model_kind;

typedef enum pyhpe_crop_convention {
  PYHPE_CONVENTION_PYHPE = 0,   /* the card's crop convention "pyhpe" (default) */
  PYHPE_CONVENTION_OFFICIAL = 1 /* "official": the released TRGv2 code's crop and K_crop */
} pyhpe_crop_convention;

typedef enum pyhpe_translation_form {
  PYHPE_FORM_PAPER = 0,   /* the card's kwargs form "paper" (default) */
  PYHPE_FORM_OFFICIAL = 1 /* "official": τ from the image centre, τ̃ in units of b/2 */
} pyhpe_translation_form;

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
  /* 6DoF models (fields added after the rotation ones; pyhpe_options_default: a rotation model). */
  int model_kind;          /* pyhpe_model_kind (the sidecar's card task) */
  int crop_convention;     /* pyhpe_crop_convention (the card's crop "convention") */
  int translation_form;    /* pyhpe_translation_form (the card's kwargs "form") */
  int num_vertices;        /* V of the vertices output (the sidecar's shape [V, 3]); 0: any */
  char camera_blob[64];    /* the camera vector input ("in1"); the 6D output is output_blob */
  char correction_blob[64];/* "out1" */
  char vertices_blob[64];  /* "out2" */
  char landmarks_blob[64]; /* "out3" */
} pyhpe_options;

typedef struct pyhpe_pose {
  float sixd[6];       /* first two matrix columns: R00 R10 R20 R01 R11 R21 */
  float R[9];          /* rotation head -> camera, row-major */
  float euler_deg[3];  /* pitch, yaw, roll in degrees, R = Rz(roll) Ry(yaw) Rx(pitch) */
} pyhpe_pose;

#define PYHPE_CAMERA_SIZE 11   /* the camera vector: CAMERA_LAYOUT */
#define PYHPE_NUM_LANDMARKS 68

/* A 6DoF result. The caller sets vertices / landmarks to its buffers (or NULL to skip them). */
typedef struct pyhpe_pose6dof {
  float sixd[6];            /* as pyhpe_pose */
  float R[9];               /* rotation head -> camera, row-major */
  float euler_deg[3];       /* pitch, yaw, roll in degrees */
  float t[3];               /* metres, camera frame (OpenCV axes): x_cam = R v + t */
  float correction[3];      /* the graph's (s, τ̃x, τ̃y) */
  float camera[PYHPE_CAMERA_SIZE]; /* the camera vector the graph got */
  float intrinsics[4];      /* fx, fy, cx, cy of the full image used (given, or f = W + H at the centre) */
  float crop_map[4];        /* sx, tx, sy, ty: full-image pixel (x, y) -> crop pixel (sx x + tx, sy y + ty)
                               (the landmarks' map; _tensor path: zeros) */
  int num_vertices;         /* V, set by the runtime */
  int vertices_capacity;    /* in vertices: the size of `vertices` / 3 */
  float* vertices;          /* caller's buffer (vertices_capacity x 3) or NULL: head frame, metres */
  float* landmarks;         /* caller's buffer (68 x 2) or NULL: crop pixels */
} pyhpe_pose6dof;

typedef struct pyhpe_model pyhpe_model;

void pyhpe_options_default(pyhpe_options* options);
/* Options of the model whose export sidecar (<stem>.ncnn.json, format "pyhpe-deploy", version 2,
 * or version 1 with margin 0.2 and resize 256) is json_path: pyhpe_options_default, then the
 * sidecar's input size, blobs, output kind (its first graph output named "sixd" or "R"), crop and
 * normalisation; fields the format lets out take the defaults pyhpe's Python reader gives them.
 * A card of task "trgv2_6dof" gives a 6DoF model: crop kind landmark_box (its margin and
 * "convention"), the kwargs "form", the "camera" input's blob (its layout must be CAMERA_LAYOUT)
 * and the blobs of the outputs sixd, correction, vertices ([V, 3]: num_vertices) and landmarks.
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
/* As pyhpe_model_load, from memory: the .param text (param_size bytes; no terminating NUL needed)
 * and the .bin bytes. The runtime keeps its own copies (a reload by pyhpe_model_set_threads or
 * _set_precision reads them). `name` stands for the files in messages ("<name>.param line 3: ...";
 * NULL: "memory").
 * Both loads check the model strictly before ncnn parses it (csrc/runtime/src/model_check.h): a
 * malformed, truncated or mismatched .param/.bin fails with PYHPE_ERR_MODEL and a message naming
 * the file, the line and the problem. */
pyhpe_status pyhpe_model_load_memory(const char* param_text, size_t param_size, const void* bin, size_t bin_size,
                                     const char* name, const pyhpe_options* options, pyhpe_model** out_model);
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

/* 6DoF pose of the face in box (x0, y0, x1, y1: its landmarks' extent, or a face detector's box;
 * required) of the full image, with the image's intrinsics (fx, fy, cx, cy; fx = fy as TRGv2
 * assumes; NULL: unknown, f = W + H at the image centre). A model of model_kind PYHPE_MODEL_6DOF. */
pyhpe_status pyhpe_infer_6dof(pyhpe_model* model, const uint8_t* pixels, int width, int height,
                              int stride_bytes, int pixel_format, const float* box,
                              const float* intrinsics, pyhpe_pose6dof* out);
/* 6DoF pose from a preprocessed crop (3 x S x S float32, planar, normalised) and its camera vector. */
pyhpe_status pyhpe_infer_6dof_tensor(pyhpe_model* model, const float* chw, const float* camera,
                                     pyhpe_pose6dof* out);
/* The network inputs pyhpe_infer_6dof computes: the crop (3 x S x S float32 to out_chw) and the
 * camera vector (PYHPE_CAMERA_SIZE floats to out_camera; NULL to skip). */
pyhpe_status pyhpe_preprocess_6dof(const pyhpe_options* options, const uint8_t* pixels, int width,
                                   int height, int stride_bytes, int pixel_format, const float* box,
                                   const float* intrinsics, float* out_chw, float* out_camera);
/* Pixels (n x 2) of head-frame points (n x 3, e.g. a pose's vertices) through the pose and the
 * full image's intrinsics (fx, fy, cx, cy, e.g. pose.intrinsics): x_cam = R v + t, pinhole. */
pyhpe_status pyhpe_project_points(const pyhpe_pose6dof* pose, const float* intrinsics,
                                  const float* points, int n, float* out_uv);

#ifdef __cplusplus
}
#endif

#endif /* PYHPE_RUNTIME_H */
