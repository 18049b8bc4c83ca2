"""Write assets/imagenet_models.json: the ImageNet model list (keys, weights names, published top-1) read from
torchvision's weights enums, which the app reads at start-up instead of importing torchvision (~1 s).

    python -m scripts.imagenet_catalog

Rerun it after changing the torchvision version; tests/test_classifiers.py fails while the file and
torchvision disagree.
"""
from __future__ import annotations

import json

from resnet_demo.serving.weights import CATALOG, catalog_from_torchvision

if __name__ == "__main__":
    CATALOG.write_text(json.dumps(catalog_from_torchvision(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CATALOG}")
