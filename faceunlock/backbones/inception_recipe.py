"""How facenet-pytorch's InceptionResnetV1 sees a face — the MTCNN box resized to 160², standardised as
(x − 127.5) / 128, L2-normalised 512-d embeddings — and where its released weights come from, without torch: the
unlock path builds this Backbone around an ONNX graph (decision 023); `inception` (the torch network) re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceunlock.align import crop_box
from faceunlock.detect import Face
from faceunlock.embed import Backbone

PRETRAINED = {
    "vggface2": {
        "file": "20180402-114759-vggface2.pt",
        "url": "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
        "classes": 8631,
    },
    "casia-webface": {
        "file": "20180408-102900-casia-webface.pt",
        "url": "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180408-102900-casia-webface.pt",
        "classes": 10575,
    },
}


@dataclass
class InceptionBackbone(Backbone, arch="inception"):
    name = "inception-resnet-v1"
    normalize = True
    feature_dim = 1792
    margin = 0

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        return crop_box(image, face.box, self.input_size, self.margin)

    def standardize(self, chips: np.ndarray) -> np.ndarray:
        return (np.asarray(chips).astype(np.float32) - np.float32(127.5)) / np.float32(128.0)
