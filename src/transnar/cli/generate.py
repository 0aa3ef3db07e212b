"""``transnar generate``: a trained model's answer to one CLRS-Text question."""

from __future__ import annotations

import argparse
import sys

from transnar.cli._arguments import add_model_arguments, add_positions_argument, pick_model

EPILOG = """\
Text only: the graph the NAR reads is rebuilt from the question (its inputs
are parsed back and the algorithm run up to its first step only), so a
CLRS-Text question is all it takes. In --question, '\\n' may stand for the
line breaks; '-' reads the question from standard input.

The answer is printed without its closing blank line. By default at most a
bound on the answer's length, from the algorithm and the question's inputs
alone, is generated, as in 'transnar lm eval'. The true answer is never
computed before answering; with --score, the algorithm then runs to its end
and the true answer and the scores are printed too. A question with index
hints (each element preceded by its index marker: 'key: [a0.5 b0.7]') is
answered, bounded and scored with them.

Random positions: the model reads its tokens at positions drawn at random (as
in the paper's evaluation), so the answer depends on --seed. The draw comes
from --seed and the question's text alone, exactly as 'transnar lm eval
--position-seed S' draws it for each question: with --seed S, this prints the
prediction that evaluation recorded for the question (its samples.jsonl).
A model trained with linear positions, or --positions linear, ignores --seed.

MODEL_DIR is a saved model (TransNAR.save_pretrained), a training run holding
one in model/, or a pipeline run (transnar run): there --arm and --model-seed
pick the model (default: TransNAR's first seed); standard error says which.

examples:
  transnar generate runs/transnar --question 'bfs:\\ns: 0, A: [[1 1 0], [1 1 1], [0 1 1]]\\npi:'
  transnar generate runs/baseline/model --question - --score < question.txt
  transnar generate runs/pipeline-tiny --arm baseline --question - < question.txt
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``generate`` command."""
    parser = commands.add_parser(
        "generate",
        help="answer one CLRS-Text question with a trained TransNAR or baseline",
        description=(
            "Greedy answer of a saved TransNAR (or baseline, or control) to one CLRS-Text\n"
            "question."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--question", required=True, help="the question text ('-': read standard input)"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        metavar="N",
        help="generate at most N tokens (default: a bound on the answer's length)",
    )
    add_positions_argument(parser)
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of random positions, as 'lm eval --position-seed S' (default 0)",
    )
    parser.add_argument("--score", action="store_true", help="also print the truth and scores")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Answers the question and prints the answer."""
    from transnar.clrs.text.questions import parse_question
    from transnar.evaluation.answering import answer_question, load_model, normalize_question
    from transnar.training.runs import resolve_device

    text = sys.stdin.read() if args.question == "-" else args.question
    question = normalize_question(text)
    parse_question(question, check_trace=False)  # malformed text fails before the model loads
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    directory = pick_model(args)
    model, _ = load_model(directory, resolve_device(args.device))
    answer = answer_question(
        model,
        question,
        max_new_tokens=args.max_new_tokens,
        positions=args.positions,
        seed=args.seed,
        score=args.score,
    )
    print(answer.text)
    if answer.positions == "random":
        print(
            f"transnar: random positions, seed {args.seed}: the prediction of 'transnar lm eval "
            f"--position-seed {args.seed}' for this question; another --seed may answer "
            "differently",
            file=sys.stderr,
        )
    if args.score:
        scores = answer.scores
        print(f"truth: {answer.truth}")
        print(
            f"parse {scores.parse:.0f}, shape {scores.shape:.0f}, CLRS {scores.clrs:.3f}"
            + ("" if scores.trace is None else f", trace {scores.trace:.3f}")
            + ("" if answer.stopped else f" (cut at {answer.max_new_tokens} tokens)")
        )
    return 0


__all__ = ["register", "run"]
