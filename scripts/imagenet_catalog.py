"""Write assets/imagenet_models.json: the ImageNet model list (keys, weights names, published top-1) read from
torchvision's weights enums, which the app reads at start-up instead of importing torchvision (~1 s).

    python scripts/imagenet_catalog.py

Rerun it after changing the torchvision version; tests/test_imagenet.py fails while the file and
torchvision disagree.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resnet_demo.imagenet import CATALOG, catalog_from_torchvision  # noqa: E402

if __name__ == "__main__":
    CATALOG.write_text(json.dumps(catalog_from_torchvision(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {CATALOG}")
