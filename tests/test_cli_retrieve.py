"""The ``mmfuse retrieve`` subcommand."""

import pytest

from mmfuse.cli import build_parser, main


def test_retrieve_prints_map_both_ways_and_a_search(capsys):
    assert main(["retrieve", "--n-samples", "90", "--methods", "cca,sm", "--k", "3",
                 "--query", "a red circle"]) == 0
    out = capsys.readouterr().out
    assert "image->text MAP" in out and "text->image MAP" in out
    assert "cca" in out and "sm" in out
    assert "top 3 held-out images for the text 'a red circle'" in out


def test_retrieve_rejects_bad_arguments(capsys):
    assert main(["retrieve", "--methods", "cca,magic"]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert main(["retrieve", "--n-samples", "10"]) == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["retrieve", "--k", "0"])
    # demo is untouched
    assert build_parser().parse_args(["demo"]).command == "demo"
