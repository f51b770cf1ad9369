"""`faceunlock fine-tune DATA_DIR --out models/NAME`: adapt a face model to your own people, measured honestly.

torch is imported inside `run`, so `faceunlock --help` stays fast. Under torchrun every process runs this same
command; only rank 0 prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from faceunlock.backbones import ARCHITECTURES  # no torch: the registry of networks
    from faceunlock.train.config import default as D  # no torch: the defaults' one place

    p = sub.add_parser(
        "fine-tune", help="fine-tune a face model on a folder-per-person dataset",
        description="Fine-tune a face model with online triplet mining on DATA_DIR (one sub-folder per person). "
                    "Every epoch is scored on held-out people; the best model (possibly the base itself) is kept in "
                    "OUT/weights.pt with OUT/calibration.json, ready for `enroll/verify --weights OUT`. "
                    "Multi-GPU / multi-process: torchrun --nproc_per_node N -m faceunlock fine-tune …",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    p.add_argument("data", metavar="DATA_DIR", help="training photos, one sub-folder per person")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (e.g. models/NAME)")
    d = p.add_argument_group("data")
    d.add_argument("--negatives", metavar="DIR", help="photos of other people, used only as negatives "
                   "(sub-folder per person, or loose images = one person each)")  # fmt: skip
    d.add_argument("--val", metavar="DIR", help="held-out people (folder per person) to evaluate and calibrate on; "
                   "default: hold out --val-fraction of DATA_DIR's people")  # fmt: skip
    d.add_argument("--val-fraction", type=float, default=D("val_fraction"), metavar="F",
                   help="share of people held out when --val is not given (at least 2)")  # fmt: skip
    d.add_argument("--augment", type=int, default=D("augment"), metavar="N",
                   help="augmentations used: 1 none, 2 +horizontal flip, 3 +brighter, 4 +darker")  # fmt: skip
    m = p.add_argument_group("model")
    m.add_argument("--base", default=D("base"), metavar="SPEC",
                   help="starting model: auto, vggface2, casia-webface, dlib-resnet34, a weights file / fine-tune "
                        "folder, or random (untrained; its output is marked untrained)")  # fmt: skip
    m.add_argument("--arch", default=D("arch"), choices=list(ARCHITECTURES),
                   help="architecture for --base random")  # fmt: skip
    m.add_argument("--train-layers", default=D("train_layers"), choices=["head", "block8", "all"],
                   help="head: projection only (trunk features cached, epochs take ms); block8: + the last block; "
                        "all: every layer")  # fmt: skip
    m.add_argument("--freeze-bn", action="store_true",
                   help="keep every BatchNorm in eval mode with fixed statistics and affine parameters")  # fmt: skip
    t = p.add_argument_group("triplets")
    t.add_argument("--mining", default=D("mining"), choices=["semi-hard", "batch-hard", "batch-all", "facenet"],
                   help="online triplet selection (facenet: random negative with d²(a,n) − d²(a,p) < margin)")  # fmt: skip
    t.add_argument("--distance", default=D("distance"), choices=["auto", "l2", "squared-l2"],
                   help="auto: squared-l2 for facenet mining (as FaceNet), else l2")  # fmt: skip
    t.add_argument("--margin", type=float, default=D("margin"), metavar="M",
                   help="triplet margin; default 0.2 on unit embeddings, scaled to the base model's impostor "
                        "distance for un-normalised ones (dlib)")  # fmt: skip
    t.add_argument("--people-per-batch", dest="p", type=int, default=D("p"), metavar="P",
                   help="P: people per batch (per process under torchrun)")  # fmt: skip
    t.add_argument("--images-per-person", dest="k", type=int, default=D("k"), metavar="K",
                   help="K: images of each of those people per batch")  # fmt: skip
    t.add_argument("--negatives-per-batch", type=int, default=D("negatives_per_batch"), metavar="N",
                   help="one-image / --negatives faces added to each batch")  # fmt: skip
    o = p.add_argument_group("optimisation")
    o.add_argument("--epochs", type=int, default=D("epochs"), metavar="N", help="maximum epochs")
    o.add_argument("--max-steps-per-epoch", type=int, default=D("max_steps_per_epoch"), metavar="N",
                   help="cap on batches per epoch (default: about one pass over the images)")  # fmt: skip
    o.add_argument("--lr", type=float, default=D("lr"), metavar="LR",
                   help="peak AdamW learning rate; default 1e-3 from random, else 1e-4 head / 3e-5 block8 / 1e-5 all")  # fmt: skip
    o.add_argument(
        "--weight-decay", type=float, default=D("weight_decay"), metavar="WD", help="AdamW weight decay (not on biases/BN)"
    )
    o.add_argument("--l2-sp", type=float, default=D("l2_sp"), metavar="LAMBDA",
                   help="pull the trained weights toward the base (L2-SP) so the faces it already knows are not "
                        "forgotten; default 0.3 from a pretrained base (Yale B: LFW −0.18 instead of −0.80 points), "
                        "0 from --base random")  # fmt: skip
    o.add_argument(
        "--warmup-epochs", type=float, default=D("warmup_epochs"), metavar="E", help="linear warm-up, then cosine decay"
    )
    o.add_argument("--patience", type=int, default=D("patience"), metavar="N",
                   help="stop after N epochs without held-out improvement")  # fmt: skip
    o.add_argument("--metric", dest="monitor", default=D("monitor"), choices=["auc", "tar", "eer"],
                   help="held-out metric for early stopping and best-model choice")  # fmt: skip
    o.add_argument("--target-far", type=float, default=D("target_far"), metavar="FAR",
                   help="false-accept rate the calibration threshold is set for")  # fmt: skip
    o.add_argument("--seed", type=int, default=D("seed"), help="seed for the split, sampling and random base")
    r = p.add_argument_group("runtime")
    r.add_argument("--device", default=D("device"), help="auto (CUDA if present), cpu, cuda, cuda:N")
    r.add_argument("--amp", default=D("amp"), choices=["auto", "bf16", "fp16", "off"],
                   help="mixed precision on CUDA (auto: bf16 where supported, else fp16); off on CPU")  # fmt: skip
    r.add_argument("--resume", action="store_true", help="continue the run in --out after a crash or kill")
    r.add_argument("--overwrite", action="store_true", help="discard a previous run in --out and start again")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--json", action="store_true", help="print the final report as JSON on stdout")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """Flags → FineTuneConfig: every field has a flag of the same name (dest), paths expanded."""
    from dataclasses import fields

    from faceunlock.train.config import FineTuneConfig

    values = {f.name: getattr(args, f.name) for f in fields(FineTuneConfig) if hasattr(args, f.name)}
    for name in ("data", "out", "negatives", "val"):
        values[name] = Path(values[name]).expanduser() if values[name] else None
    values["progress"] = not args.no_progress
    return FineTuneConfig(**values)


def check_args(args: argparse.Namespace) -> None:
    """Reject impossible numbers before any model or data is loaded."""
    from faceunlock.errors import InvalidInput

    if args.p < 2 and not args.negatives:
        raise InvalidInput(
            "--people-per-batch must be at least 2 (a batch needs two people) unless --negatives is given"
        )
    if args.k < 2:
        raise InvalidInput(
            "--images-per-person must be at least 2 (a person needs a positive pair in the batch)"
        )
    if not 0 < args.val_fraction < 1:
        raise InvalidInput("--val-fraction must be between 0 and 1")
    if not 0 < args.target_far < 1:
        raise InvalidInput("--target-far must be between 0 and 1")
    if args.epochs < 0 or args.patience < 1:
        raise InvalidInput("--epochs must be ≥ 0 and --patience ≥ 1")
    if args.l2_sp is not None and args.l2_sp < 0:
        raise InvalidInput("--l2-sp must be ≥ 0")
    if args.margin is not None and args.margin <= 0:
        raise InvalidInput("--margin must be positive")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    from faceunlock.cli.common import emit_json
    from faceunlock.train.finetune import fine_tune_folders

    rep = fine_tune_folders(config_from_args(args))
    if not rep:  # not rank 0 under torchrun
        return 0
    if args.json:
        emit_json(rep)
        return 0
    print(rep["table"])
    for w in rep["verdict"] + rep["data"]["warnings"]:
        print(f"warning: {w}")
    skipped = rep["data"]["skipped_files"]
    if skipped:
        print(
            f"{len(skipped)} file(s) without a usable face were skipped (listed in report.json), e.g. {skipped[0][1]}"
        )
    print(f"best epoch {rep['best_epoch']}; weights {rep['weights']} (sha256 {rep['sha256'][:12]}…), "
          f"calibration {rep['calibration']}; report {Path(rep['out']) / 'report.json'}")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m faceunlock.cli.fine_tune …`: this command alone (torchrun and tests use it directly)."""
    import sys

    from faceunlock.errors import FaceUnlockError

    parser = argparse.ArgumentParser(prog="faceunlock")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fine-tune", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (FaceUnlockError, ValueError) as e:
        print(f"faceunlock: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)


if __name__ == "__main__":
    raise SystemExit(main())
