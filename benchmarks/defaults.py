"""Defaults a user can trust (issue 21): each default against a small grid on real data.

So far: the spoken-digit pipeline ``MFCCExtractor() + HMMClassifier()`` on
FSDD's official split (takes 0-4 test, 300 clips; 2,700 train), the clips read
from their files exactly as a user would (so MFCC runs at the default 16 kHz),
against the settings the FSDD benchmark uses (``n_states=8``, silence
trimming at 30 dB, MFCC at the clips' own 8 kHz). MFCC frames are extracted
once per MFCC setting and timed on their own; fit and predict times are the
HMMs'.

    python benchmarks/defaults.py

Writes ``results/defaults.{json,md}`` with machine info.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

MFCC_GRID = {"MFCCExtractor()": {}, "MFCCExtractor(trim_db=30)": {"trim_db": 30.0},
             "MFCCExtractor(sr=8000)": {"sr": 8000},
             "MFCCExtractor(sr=8000, trim_db=30)": {"sr": 8000, "trim_db": 30.0}}
HMM_GRID = {"HMMClassifier()": {}, "HMMClassifier(n_states=8)": {"n_states": 8}}


def fsdd_rows(data_dir: Path) -> list[dict]:
    from mmfuse.audio import MFCCExtractor
    from mmfuse.datasets import load_fsdd
    from mmfuse.probabilistic import HMMClassifier

    train = load_fsdd(data_dir / "fsdd", subset="train")
    test = load_fsdd(data_dir / "fsdd", subset="test")
    rows = []
    for mfcc_name, mfcc_params in MFCC_GRID.items():
        start = time.perf_counter()
        mfcc = MFCCExtractor(n_jobs=2, **mfcc_params)
        F_train = mfcc.fit_transform(train.frame["audio"])
        F_test = mfcc.transform(test.frame["audio"])
        mfcc_s = time.perf_counter() - start
        for hmm_name, hmm_params in HMM_GRID.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # EM may stop at n_iter
                start = time.perf_counter()
                hmm = HMMClassifier(random_state=0, **hmm_params).fit(F_train, train.target)
                fit_s = time.perf_counter() - start
                start = time.perf_counter()
                accuracy = float(np.mean(hmm.predict(F_test) == test.target))
                predict_s = time.perf_counter() - start
            rows.append({"dataset": "fsdd (official split)", "estimator": "HMMClassifier",
                         "setting": f"{mfcc_name} + {hmm_name}",
                         "is_default": not mfcc_params and not hmm_params,
                         "accuracy": accuracy, "mfcc_s": mfcc_s, "fit_s": fit_s,
                         "predict_s": predict_s})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] /
                                                  "shared" / "datasets"))
    args = parser.parse_args(argv)
    from kernels import machine_info, machine_line

    rows = fsdd_rows(Path(args.data_dir))
    machine = machine_info()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "defaults.json").write_text(json.dumps({"machine": machine, "rows": rows},
                                                      indent=1))
    best = max(rows, key=lambda r: r["accuracy"])
    default = next(r for r in rows if r["is_default"])
    lines = ["# Defaults against a small grid on real data (issue 21)", "",
             "FSDD official split; clips read from their files as a user would. "
             "MFCC extraction timed once per MFCC setting; fit/predict: the HMMs.", "",
             "| dataset | setting | default | accuracy | MFCC s | fit s | predict s |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['setting']} | {'yes' if r['is_default'] else ''} "
                     f"| {r['accuracy']:.3f} | {r['mfcc_s']:.0f} | {r['fit_s']:.0f} | "
                     f"{r['predict_s']:.1f} |")
    lines += ["", f"Default {default['accuracy']:.3f}; best {best['accuracy']:.3f} "
              f"({best['setting']}).", "",
              machine_line(machine)]
    (RESULTS / "defaults.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
