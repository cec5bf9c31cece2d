"""A lexical reference for the security task (issue 18): how well can Bandit's labels be learned
from the tokens of a function at all, on held-out repositories?

Run: .venv/bin/python bench/security_reference.py DATASET

DATASET is a folder written by `python main.py dataset --task security` with repositories pinned
to validation and test (`--validation-repos`, `--test-repos`). On its rows (the model's own
wordpiece ids) a logistic regression over tf-idf 1-3-grams is fitted to the training split, for
C in {1, 10, 100} and class weights none/balanced; the setting with the best validation PR-AUC is
kept, its cut-off is the best-F1 one on validation (as `eval.threshold: tune` does), and the test
split is scored at that cut-off. Bandit's rules are lexical (a call to `pickle.loads`, a
`shell=True` argument), so this is the natural ceiling to read a fine-tuned encoder against. The
test recall per Bandit test id, beside that id's training examples, shows where it fails.

Measured 2026-11-29 (`--severity medium`, seq 256, MiniLM wordpieces; train: the Python standard
library, this project, click, requests, itsdangerous, werkzeug, bottle, fabric and the Python
scripts of other collected repositories, 53,220 functions, 859 vulnerable; validation: dill, kombu, mako, pexpect, 5,376 / 67;
test: invoke, tornado, paramiko, ipython, scrapy, cloudpickle, joblib, jinja, docker-py, pyyaml,
python-fire, httpie, sh, 21,589 / 236):
  best setting C=10, balanced: validation PR-AUC 0.725, F1 0.713; test PR-AUC 0.390, F1 0.418 at the
  validation cut-off (0.440 at the best cut-off for test itself); every setting 0.32-0.43.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def best_cut(truth, scores) -> tuple[float, float]:
    from application.train.metric_stats import best_f1_threshold

    return best_f1_threshold(list(scores), list(truth)) or (0.5, 0.0)


def main() -> None:
    import numpy as np
    from datasets import load_from_disk
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    data = load_from_disk(sys.argv[1])
    splits = ("train", "validation", "test")
    vectorizer = HashingVectorizer(ngram_range=(1, 3), n_features=2**20, token_pattern=r"\S+", alternate_sign=False)
    X = {s: vectorizer.transform(" ".join(map(str, ids)) for ids in data[s]["input_ids"]) for s in splits}
    y = {s: np.array(data[s]["labels"]) for s in splits}
    tfidf = TfidfTransformer(sublinear_tf=True).fit(X["train"])
    X = {s: tfidf.transform(m) for s, m in X.items()}
    print("rows (vulnerable): " + ", ".join(f"{s} {len(y[s])} ({int(y[s].sum())})" for s in splits))

    best = None
    for C in (1, 10, 100):
        for weight in (None, "balanced"):
            model = LogisticRegression(C=C, max_iter=3000, class_weight=weight).fit(X["train"], y["train"])
            val, test = model.predict_proba(X["validation"])[:, 1], model.predict_proba(X["test"])[:, 1]
            cut, val_f1 = best_cut(y["validation"], val)
            flagged = test >= cut
            tp = int((flagged & (y["test"] == 1)).sum())
            test_f1 = 2 * tp / (int(flagged.sum()) + int(y["test"].sum()))
            val_ap = average_precision_score(y["validation"], val)
            print(f"C={C} weights={weight}: validation PR-AUC {val_ap:.3f}, F1 {val_f1:.3f} at {cut:.3f}; "
                  f"test PR-AUC {average_precision_score(y['test'], test):.3f}, F1 {test_f1:.3f} at that cut-off "
                  f"({best_cut(y['test'], test)[1]:.3f} at test's own best)", flush=True)
            if best is None or val_ap > best[0]:
                best = (val_ap, C, weight, cut, test, flagged)
    _, C, weight, cut, test, flagged = best
    truth = y["test"] == 1
    tp, fp = int((flagged & truth).sum()), int((flagged & ~truth).sum())
    fn, tn = int((~flagged & truth).sum()), int((~flagged & ~truth).sum())
    print(f"\nkept (best validation PR-AUC): C={C}, weights={weight}; test confusion [[{tn}, {fp}], [{fn}, {tp}]] "
          f"(rows truth clean, vulnerable): precision {tp / max(tp + fp, 1):.3f}, recall {tp / max(tp + fn, 1):.3f}")
    trained = Counter(t for ids in data["train"]["bandit_test_ids"] for t in (ids or []))
    found, caught = Counter(), Counter()
    for ids, hit in zip(data["test"]["bandit_test_ids"], flagged):
        for t in set(ids or []):
            found[t] += 1
            caught[t] += int(hit)
    print("| Bandit test | training units | test units | test recall |\n|---|---|---|---|")
    for t, n in found.most_common():
        print(f"| {t} | {trained[t]} | {n} | {caught[t] / n:.2f} |")


if __name__ == "__main__":
    main()
