"""How dlib's ResNet-34 sees a face — where its weights are, its chip (a 5-point warp onto dlib's 150-px template)
and its input scaling — without torch: the unlock path builds this Backbone around an ONNX graph (decision 023),
and `dlib_resnet` (the torch network, for training and export) re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceunlock.align import warp_to_template
from faceunlock.detect import Face
from faceunlock.embed import Backbone
from faceunlock.paths import REPO_MODELS

BUNDLED_DIR = REPO_MODELS / "dlib-resnet34"
BIN_NAME = "face_recognition_model.bin"
MANIFEST_NAME = "face_recognition_model-weights_manifest.json"

BUNDLED_META = {"source": "dlib_face_recognition_resnet_model_v1 via face-api.js", "license": "CC0"}

MEAN_RGB = (122.782, 117.001, 104.298)
"""dlib's input_rgb_image mean, subtracted before scaling."""
INPUT_SCALE = 255.0
"""Divisor after mean subtraction. The dlib oracle cannot tell 255 from 256 (median L2 0.0364 both ways)."""

DLIB_TEMPLATE_150 = np.array(
    [[42.3, 36.3], [103.5, 36.6], [73.4, 71.6], [45.6, 103.2], [99.1, 103.6]], dtype=np.float32
)
"""Mean MTCNN landmarks (left eye, right eye, nose, mouth left, mouth right) on dlib's own 150 px chips.

Warping MTCNN's 5 points here reproduces dlib's 5-point-shape-predictor chip (padding 0.25) closely
enough for the network, without shipping dlib's landmark model.
"""


# -- the Backbone ---------------------------------------------------------------------------------------------
@dataclass
class DlibResNetBackbone(Backbone, arch="dlib-resnet34"):
    """dlib's ResNet behind the common Backbone interface: template-warped 150 px chips, raw-L2 descriptors."""

    name = "dlib-resnet34"
    normalize = False
    feature_dim = 256

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        """Similarity-warp the 5 MTCNN landmarks onto dlib's chip template."""
        return warp_to_template(image, face.landmarks, DLIB_TEMPLATE_150, self.input_size)

    def standardize(self, chips: np.ndarray) -> np.ndarray:
        """uint8 N×150×150×3 → float32 (RGB − dlib's mean) / 255, still N×H×W×3."""
        return (np.asarray(chips).astype(np.float32) - np.asarray(MEAN_RGB, np.float32)) / np.float32(INPUT_SCALE)
