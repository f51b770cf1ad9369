"""pairs: the project's TSV and the official LFW pairs.txt, with missing images reported and bad lines located."""

from __future__ import annotations

import pytest

from faceunlock.errors import DatasetError
from faceunlock.pairs import Pair, read_pairs
from tests.shared_data import need


def test_lfw_dev_tsv():
    pairs, missing = read_pairs(need("lfw-dev-pairs.tsv"), need("lfw-dev"))
    assert len(pairs) == 6000 and missing == []
    assert sum(p.same for p in pairs) == 3000
    assert all(p.fold is None for p in pairs)
    assert all(p.a.is_file() and p.b.is_file() for p in pairs)
    # a same-person pair is two images of one person's folder, a different pair of two folders
    assert all((p.a.parent.name == p.b.parent.name) == p.same for p in pairs)
    first = pairs[0]
    assert first == Pair(need("lfw-dev", "Abdullah_Gul", "Abdullah_Gul_0001.jpg"),
                         need("lfw-dev", "Abdullah_Gul", "Abdullah_Gul_0003.jpg"), True)  # fmt: skip


def test_official_lfw_pairs_folds_and_missing():
    official, root = need("lfw-pairs-official.txt"), need("lfw-dev")
    pairs, missing = read_pairs(official, root)

    # independent parse of the View 2 file: 10 folds × (300 same, then 300 different)
    lines = [ln.split() for ln in official.read_text().splitlines() if ln.strip()]
    folds, per = map(int, lines[0])
    assert (folds, per) == (10, 300) and len(lines) == 1 + 6000
    expected, absent = [], set()
    for n, t in enumerate(lines[1:]):
        if len(t) == 3:
            a, b, same = (
                root / t[0] / f"{t[0]}_{int(t[1]):04d}.jpg",
                root / t[0] / f"{t[0]}_{int(t[2]):04d}.jpg",
                True,
            )
        else:
            a, b, same = (
                root / t[0] / f"{t[0]}_{int(t[1]):04d}.jpg",
                root / t[2] / f"{t[2]}_{int(t[3]):04d}.jpg",
                False,
            )
        assert same == (n % 600 < 300)
        gone = {str(x) for x in (a, b) if not x.is_file()}
        absent |= gone
        if not gone:
            expected.append(Pair(a, b, same, n // 600))

    assert pairs == expected
    assert 0 < len(pairs) < 6000, "lfw-dev holds only part of the official images"
    assert missing == sorted(absent) and missing
    assert {p.fold for p in pairs} == set(range(10))
    assert any(p.same for p in pairs) and any(not p.same for p in pairs)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_tsv_missing_files_are_reported_not_fatal(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "1.jpg").write_bytes(b"")
    p = _write(tmp_path, "p.tsv", "same\timage_a\timage_b\n1\tx/1.jpg\tx/1.jpg\n0\tx/1.jpg\ty/2.jpg\n")
    pairs, missing = read_pairs(p, tmp_path)
    assert pairs == [Pair(tmp_path / "x/1.jpg", tmp_path / "x/1.jpg", True)]
    assert missing == [str(tmp_path / "y/2.jpg")]


@pytest.mark.parametrize("bad", ["2\ta\tb", "1\ta", "1 a b", "yes\ta\tb", "1\ta\tb\tc"])
def test_malformed_tsv_line_names_file_and_line(tmp_path, bad):
    p = _write(tmp_path, "bad.tsv", f"same\timage_a\timage_b\n1\ta\tb\n{bad}\n0\ta\tb\n")
    with pytest.raises(DatasetError, match=r"bad\.tsv:3\b"):
        read_pairs(p, tmp_path)


def test_malformed_tsv_line_number_counts_blank_lines(tmp_path):
    p = _write(tmp_path, "blank.tsv", "same\timage_a\timage_b\n\n1\ta\tb\n\nbroken line\n")
    with pytest.raises(DatasetError, match=r"blank\.tsv:5\b"):
        read_pairs(p, tmp_path)


def test_malformed_official_line_names_file_and_line(tmp_path):
    p = _write(tmp_path, "pairs.txt", "1 1\nAlice 1 2\nAlice 1 Bob 2 extra\n")
    with pytest.raises(DatasetError, match=r"pairs\.txt:3\b"):
        read_pairs(p, tmp_path)


def test_official_non_numeric_index_is_dataset_error(tmp_path):
    p = _write(tmp_path, "pairs.txt", "1 1\nAlice 1 two\nAlice 1 Bob 2\n")
    with pytest.raises(DatasetError, match=r"pairs\.txt:2\b"):
        read_pairs(p, tmp_path)


def test_official_header_count_mismatch(tmp_path):
    p = _write(tmp_path, "short.txt", "2 1\nAlice 1 2\nAlice 1 Bob 2\n")
    with pytest.raises(DatasetError, match="short.txt"):
        read_pairs(p, tmp_path)


def test_unusable_pairs_files(tmp_path):
    with pytest.raises(DatasetError, match="absent.tsv"):
        read_pairs(tmp_path / "absent.tsv", tmp_path)
    with pytest.raises(DatasetError, match="empty"):
        read_pairs(_write(tmp_path, "empty.tsv", "\n\n"), tmp_path)
    with pytest.raises(DatasetError, match="unknown pairs format"):
        read_pairs(_write(tmp_path, "what.csv", "a,b,c\n1,x,y\n"), tmp_path)


def _official_lines():
    return need("lfw-pairs-official.txt").read_text().splitlines()


def test_lfw_view1_file_one_number_header(tmp_path):
    """pairsDevTrain/Test.txt (View 1): header `n`, then n same and n different pairs, no folds."""
    lines = _official_lines()
    same, diff = lines[1:21], lines[301:321]  # fold 0: 300 same, then 300 different
    p = _write(tmp_path, "pairsDevTest.txt", "\n".join(["20", *same, *diff]) + "\n")
    pairs, missing = read_pairs(p, need("lfw-dev"))
    assert pairs, "some of fold 0's people are in lfw-dev"
    assert any(pr.same for pr in pairs) and any(not pr.same for pr in pairs)
    assert all(pr.fold is None for pr in pairs)
    parsed_same = [pr for pr in pairs if pr.same]
    assert all(pr.a.parent == pr.b.parent for pr in parsed_same)
    assert all(pr.a.parent != pr.b.parent for pr in pairs if not pr.same)
    # the same 40 lines under a View 2 header with one fold give the same pairs, with fold ids
    p2 = _write(tmp_path, "pairs1.txt", "\n".join(["1 20", *same, *diff]) + "\n")
    pairs2, missing2 = read_pairs(p2, need("lfw-dev"))
    assert [(q.a, q.b, q.same) for q in pairs2] == [(q.a, q.b, q.same) for q in pairs] and missing2 == missing
    assert {q.fold for q in pairs2} <= {0}


def test_lfw_view1_count_mismatch_names_file(tmp_path):
    p = _write(tmp_path, "pairsDevTrain.txt", "2\nAlice 1 2\nAlice 1 Bob 2\n")
    with pytest.raises(DatasetError, match="pairsDevTrain.txt"):
        read_pairs(p, tmp_path)
