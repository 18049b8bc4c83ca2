"""What the papers say: every number the app cites rather than computes, each with its source, and how the
app names a network.

He, Zhang, Ren, Sun (2015) is "the paper"; Veit et al. (2016) and Li et al. (2018) came after it and are
tested in the "Inside trained nets" tab. Nothing here is measured: the tabs put these beside what they
measure.
"""
from __future__ import annotations

PAPER = "He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. arXiv:1512.03385 (CVPR 2016)"
PAPER_URL = "https://arxiv.org/abs/1512.03385"

# Table 1: multiply-adds ("FLOPs") of the ImageNet ResNets, in billions, and the stages' output sizes.
TABLE1 = {"source": f"{PAPER}, Table 1", "gmacs": {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3},
          "output_size": {"conv1": "112×112", "conv2_x": "56×56", "conv3_x": "28×28", "conv4_x": "14×14",
                          "conv5_x": "7×7", "head": "1×1"}}
# Fig. 3: VGG-19 against the 34-layer nets, billions of multiply-adds.
FIG3 = {"source": f"{PAPER}, Fig. 3", "gmacs": {"vgg19": 19.6, "plain34": 3.6, "resnet34": 3.6}}
# Table 2: ImageNet validation top-1 error (%), 10-crop testing.
IMAGENET_TOP1_10CROP = {
    "source": f"{PAPER}, Table 2",
    "plain": {18: 27.94, 34: 28.54},
    "resnet": {18: 27.88, 34: 25.03},
}
# Table 3: ImageNet validation top-1 error (%), 10-crop testing; ResNet-50/101/152 use option B.
TABLE3 = {"source": f"{PAPER}, Table 3", "top1": {"plain34": 28.54, "resnet34-A": 25.03, "resnet34": 24.52,
                                                   "resnet34-C": 24.19, "resnet50": 22.85, "resnet101": 21.75,
                                                   "resnet152": 21.43}}
# Table 6: CIFAR-10 test error (%), residual nets, option A, trained on the 50k training set, and their
# parameters in millions. (The paper reports 110 as "best (mean +/- std)": 6.43 (6.61 +/- 0.16).)
CIFAR10_TEST_ERROR = {
    "source": f"{PAPER}, Table 6",
    "resnet": {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93},
}
TABLE6_PARAMS = {"source": f"{PAPER}, Table 6", "mparams": {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}}
# Table 5: the ILSVRC 2015 entry, an ensemble of six models of different depth, top-5 error (%) on the test set.
ILSVRC2015 = {"source": f"{PAPER}, Table 5", "top5": 3.57}
# Tables 7-8 (§4.3): Faster R-CNN with VGG-16 against ResNet-101, mAP (%): PASCAL VOC 2007 test (trained on
# 07+12), VOC 2012 test (07++12), COCO val mAP@[.5, .95]; "a 28% relative improvement" on COCO.
DETECTION = {"source": f"{PAPER}, Tables 7 and 8", "relative": 28,
             "map": {"VOC 2007": (73.2, 76.4), "VOC 2012": (70.4, 73.8), "COCO mAP@[.5, .95]": (21.2, 27.2)}}

# The follow-up paper: He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks" (ECCV 2016). CIFAR-10 test
# error (%) of ResNet-110 (54 two-layer units), the median of 5 runs; "fail" is the paper's word for above 20%.
# Table 1: the shortcut, with the original unit (ReLU after the addition). Keys are the shortcut lab's variants.
IDENTITY = "He, Zhang, Ren, Sun. Identity Mappings in Deep Residual Networks. arXiv:1603.05027 (ECCV 2016)"
IDENTITY_URL = "https://arxiv.org/abs/1603.05027"
IDENTITY_TABLE1 = {"source": f"{IDENTITY}, Table 1", "error": {
    "identity": 6.61, "scale": "fail", "scale-both": 12.35, "exclusive-gate": "fail", "exclusive-gate-6": 8.70,
    "shortcut-gate": 12.86, "shortcut-gate-6": 6.91, "conv1x1": 12.22, "dropout": "fail"}}
# Table 2: where BN and ReLU sit, with the identity shortcut (ResNet-110; ResNet-164 in the paper's next column).
IDENTITY_TABLE2 = {"source": f"{IDENTITY}, Table 2", "error": {
    "identity": 6.61, "bn-after-add": 8.17, "relu-before-add": 7.84, "relu-preact": 6.71, "full-preact": 6.37}}

VEIT = ("**Veit, Wilber, Belongie (2016)**, Fig. 3 and 5, ResNet-110 on CIFAR-10: deleting one block leaves the "
        "error close to the intact net's except at the downsampling blocks, and the error grows smoothly as more "
        "blocks are deleted; deleting any layer of a plain VGG-style net sends it to chance. Their reading: a "
        "residual net behaves like an ensemble of many paths of different lengths, not one deep chain.")
LI = ("**Li, Xu, Taylor, Studer, Goldstein (2018)**, Fig. 5: around a trained ResNet-56 (CIFAR-10) the loss surface "
      "is smooth and nearly convex; around plain-56 (their ResNet-56 with the shortcuts removed) it is chaotic, "
      "with sharp non-convex regions — their explanation for why deep plain nets are hard to train.")
SECTION_41 = ("**The paper (§4.1)** on plain nets trained with BN: the forward signals have non-zero variances and "
              "“the backward propagated gradients exhibit healthy norms with BN”, so their degradation is "
              "“unlikely to be caused by vanishing gradients”. BN does not make a deep plain net's gradients "
              "*uniform*, though: at initialisation they can grow toward the input (Yang et al. 2019, “A Mean "
              "Field Theory of Batch Normalization”). Compare with the numbers above, and watch how they change "
              "as training goes on.")


def net_label(arch: str, depth: int) -> str:
    """How the app names a CIFAR net: "plain-56" or "ResNet-56" (``arch`` "plain" or "residual")."""
    return f"{'ResNet' if arch == 'residual' else 'plain'}-{depth}"
