"""Write the folder a Hugging Face Space gets, and nothing else.

    python -m scripts.space_bundle DIR
    hf upload USER/SPACE DIR . --repo-type=space

The Hub refuses a push that carries binary files outside LFS/Xet, and it checks every commit pushed: this
repository's history (resume states of long training jobs, binary assets) can never be pushed as it is. The
bundle is one snapshot instead: app.py, requirements.txt, resnet_demo/, assets/ (no resume state, no caches),
LICENSE, README.md (its YAML front matter is the Space's configuration) and a .gitattributes that sends every
binary file to LFS by its extension. ``hf upload`` sends the binaries through Xet/LFS by itself; the
.gitattributes also makes a plain ``git push`` of the folder (a fresh repository, with git-lfs) work.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("app.py", "requirements.txt", "README.md", "LICENSE")
FOLDERS = ("resnet_demo", "assets")
SKIP_DIRS = {"__pycache__", "resume", ".pytest_cache"}  # caches, and a long job's resume state (assets/runs/resume)
SKIP_SUFFIXES = (".pyc", ".tmp", ".resume.pt")
SKIP_PATHS = (Path("resnet_demo/testing"),)  # stand-in weights for tests; the served app never imports them
# Every binary kind the bundle may hold, sent to LFS by extension. A test fails when assets/ gains a binary
# file whose extension is not here (add it, and the Space keeps accepting uploads).
LFS_EXTENSIONS = ("pt", "npz", "png", "jpg", "jpeg", "onnx", "webp", "gif")
MAX_MB = 40


def is_binary(path: Path) -> bool:
    """A NUL byte in the first 8 KB, or not UTF-8: what git (and the Hub) treat as binary."""
    head = path.read_bytes()[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 4  # a multi-byte character cut at 8 KB is still text
    return False


def bundle_files(root: Path = ROOT) -> list[Path]:
    """The files the Space needs, relative to ``root``."""
    out = [Path(f) for f in FILES]
    for folder in FOLDERS:
        for p in sorted((root / folder).rglob("*")):
            rel = p.relative_to(root)
            if (p.is_file() and not SKIP_DIRS & set(rel.parts) and not p.name.endswith(SKIP_SUFFIXES)
                    and not any(skip in rel.parents for skip in SKIP_PATHS)):
                out.append(rel)
    return out


def gitattributes() -> str:
    return ("# every binary file goes to LFS/Xet: the Hub refuses binaries outside it\n"
            + "".join(f"*.{ext} filter=lfs diff=lfs merge=lfs -text\n" for ext in LFS_EXTENSIONS))


def write(dest: Path, root: Path = ROOT) -> dict:
    """Write the bundle to ``dest`` (emptied first; it must not be inside the checkout) and return what was
    written: {"files", "bytes", "binary": [paths], "unruled": [binary paths without an LFS rule]}."""
    dest = dest.resolve()
    if dest == root or root in dest.parents:
        raise ValueError(f"{dest} is inside the checkout: choose a folder outside it")
    if dest.exists():
        shutil.rmtree(dest)
    files = bundle_files(root)
    binary, unruled, total = [], [], 0
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
        total += target.stat().st_size
        if is_binary(target):
            binary.append(rel)
            if rel.suffix.lstrip(".").lower() not in LFS_EXTENSIONS:
                unruled.append(rel)
    (dest / ".gitattributes").write_text(gitattributes())
    return {"files": len(files) + 1, "bytes": total, "binary": binary, "unruled": unruled}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dest", type=Path, help="the folder to write (emptied first)")
    args = p.parse_args(argv)
    got = write(args.dest)
    mb = got["bytes"] / 1e6
    print(f"wrote {got['files']} files, {mb:.1f} MB, to {args.dest}")
    print(f"binary files ({len(got['binary'])}, sent to LFS by .gitattributes):")
    for rel in got["binary"]:
        print(f"  {rel}  {(args.dest / rel).stat().st_size / 1e6:.2f} MB")
    if got["unruled"]:
        print("binary files with no LFS rule (add their extension to LFS_EXTENSIONS): "
              + ", ".join(map(str, got["unruled"])), file=sys.stderr)
        return 1
    if mb > MAX_MB:
        print(f"the bundle is {mb:.1f} MB, over the {MAX_MB} MB budget", file=sys.stderr)
        return 1
    print(f"next: hf upload USER/SPACE {args.dest} . --repo-type=space")
    return 0


if __name__ == "__main__":
    sys.exit(main())
