from transnar.clrs.specs import FAMILIES, Family
from transnar.pipeline.report.nar_families import (
    IBARZ_2022_TRIPLET_GMPNN,
    family_means,
    nar_family_table,
)


def _test(score, in_distribution):
    return {"in_distribution": in_distribution, "scores": {"score": score}}


def _results(shift=0.0):
    """Two sorts (in distribution at 11), a string matcher (in distribution at 20)."""
    return {
        "algorithms": {
            "insertion_sort": {
                "family": "sorting",
                "test": {"11": _test(0.9 + shift, True), "44": _test(0.5 + shift, False)},
            },
            "bubble_sort": {
                "family": "sorting",
                "test": {"11": _test(0.7 + shift, True), "44": _test(0.3 + shift, False)},
            },
            "kmp_matcher": {
                "family": "strings",
                "test": {"20": _test(0.6 + shift, True), "64": _test(0.2 + shift, False)},
            },
        }
    }


def test_family_means_put_each_algorithm_in_distribution_at_its_own_size():
    means = family_means(_results())
    assert means["sorting"] == {"in distribution": 0.8, "n=44": 0.4}
    assert means["strings"] == {"in distribution": 0.6, "n=64": 0.2}


def test_the_table_gives_mean_and_std_over_runs_and_the_published_reference():
    lines = nar_family_table([_results(), _results(0.1)])
    assert "Ibarz et al. (2022, Table 1)" in lines[0]
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    assert header == [
        "family",
        "algorithms",
        "in distribution",
        "n=44",
        "n=64",
        "Ibarz et al. 2022 (n=64)",
    ]
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in lines[4:]
    }
    assert list(rows) == ["sorting", "strings"]  # the families in CLRS-30 order, only present
    assert rows["sorting"] == [
        "sorting",
        f"2/{len(FAMILIES[Family.SORTING])}",
        "0.850 ± 0.071",
        "0.450 ± 0.071",
        "-",
        f"{IBARZ_2022_TRIPLET_GMPNN[Family.SORTING] / 100:.3f}",
    ]
    assert rows["strings"][4] == "0.250 ± 0.071" and rows["strings"][3] == "-"


def test_the_reference_covers_the_eight_families_with_table_1s_overall_mean():
    assert set(IBARZ_2022_TRIPLET_GMPNN) == set(Family)
    assert round(sum(IBARZ_2022_TRIPLET_GMPNN.values()) / len(Family), 2) == 74.14
