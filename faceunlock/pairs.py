"""Verification pair lists: our TSV (`same  image_a  image_b`) and the official LFW files.

LFW ships View 2 (`pairs.txt`, header `folds pairs_per_half`: folds × (n same, then n different)) and View 1
(`pairsDevTrain.txt` / `pairsDevTest.txt`, header `n`: n same, then n different, no folds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faceunlock.errors import DatasetError


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    same: bool
    fold: int | None = None


def read_pairs(pairs_file: Path, root: Path) -> tuple[list[Pair], list[str]]:
    """Parse either format → (pairs whose files exist, [missing-file messages])."""
    pairs_file, root = Path(pairs_file), Path(root)
    try:
        lines = pairs_file.read_text().splitlines()
    except OSError as e:
        raise DatasetError(f"{pairs_file}: cannot read pairs file ({e})") from e
    numbered = [(i, ln) for i, ln in enumerate(lines, start=1) if ln.strip()]
    lines = [ln for _, ln in numbered]
    if not lines:
        raise DatasetError(f"{pairs_file}: empty pairs file")
    head = lines[0].split()
    if head[:1] == ["same"] or (len(head) == 3 and "\t" in lines[0] and not head[0].isdigit()):
        raw = _read_tsv(numbered[1:], root, pairs_file)
    elif len(head) == 2 and all(t.isdigit() for t in head):
        folds, per = (int(t) for t in head)
        raw = _read_lfw(numbered[1:], folds, per, root, pairs_file)
    elif len(head) == 1 and head[0].isdigit():
        raw = _read_lfw(numbered[1:], 1, int(head[0]), root, pairs_file, view1=True)
    else:
        raise DatasetError(f"{pairs_file}: unknown pairs format (expected a TSV with a 'same' column, LFW "
                           "pairs.txt (header 'folds n') or pairsDevTrain/Test.txt (header 'n'))")  # fmt: skip
    kept, missing = [], []
    for p in raw:
        absent = [str(x) for x in (p.a, p.b) if not x.is_file()]
        if absent:
            missing.extend(absent)
        else:
            kept.append(p)
    return kept, sorted(set(missing))


def _read_tsv(lines: list[tuple[int, str]], root: Path, src: Path) -> list[Pair]:
    out = []
    for n, line in lines:
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in ("0", "1"):
            raise DatasetError(f"{src}:{n}: expected 'same<TAB>image_a<TAB>image_b', got {line!r}")
        out.append(Pair(root / parts[1], root / parts[2], parts[0] == "1"))
    return out


def _lfw_path(root: Path, name: str, idx: str) -> Path:
    return root / name / f"{name}_{int(idx):04d}.jpg"


def _read_lfw(body: list[tuple[int, str]], folds: int, per: int, root: Path, src: Path,
              view1: bool = False) -> list[Pair]:  # fmt: skip
    """`folds` blocks of `per` same then `per` different pairs; View 1 files have one block and no fold ids."""
    if len(body) != folds * 2 * per:
        raise DatasetError(f"{src}: header says {folds}×{2 * per} pairs but {len(body)} lines follow")
    out = []
    for n, (lineno, line) in enumerate(body):
        t = line.split()
        fold = None if view1 else n // (2 * per)
        try:
            if len(t) == 3:
                out.append(Pair(_lfw_path(root, t[0], t[1]), _lfw_path(root, t[0], t[2]), True, fold))
            elif len(t) == 4:
                out.append(Pair(_lfw_path(root, t[0], t[1]), _lfw_path(root, t[2], t[3]), False, fold))
            else:
                raise ValueError(f"{len(t)} fields")
        except ValueError as e:
            raise DatasetError(f"{src}:{lineno}: expected 'name n1 n2' or 'name1 n1 name2 n2', got {line!r}") from e
    return out
