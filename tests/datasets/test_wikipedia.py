"""load_wikipedia / load_image_text_folder on generated folders and, when present, the real data."""

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from mmfuse.datasets import load_image_text_folder, load_wikipedia
from mmfuse.datasets._wikipedia import parse_document
from mmfuse.exceptions import MediaError

CATEGORIES = ["art", "sport"]


def _write_folder(root, *, images=True, n_train=6, n_test=4):
    """A small dataset in the Wikipedia layout, with malformed XML like the real one."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "categories.list").write_text("\n".join(CATEGORIES) + "\n")
    (root / "texts").mkdir()
    if images:
        for name in CATEGORIES:
            (root / "images" / name).mkdir(parents=True)
    rows = {"train": [], "test": []}
    for i in range(n_train + n_test):
        split = "train" if i < n_train else "test"
        category = 1 + i % 2
        text_id, image_id = f"doc{i}", f"img{i}"
        words = "paint canvas museum" if category == 1 else "goal match team"
        if i % 3 == 0:  # bare & and an HTML entity: not well-formed XML
            body = f"{words} & more&nbsp;text"
        else:
            body = f"{words} &amp; more"
        if i == 4:
            (root / "texts" / f"{text_id}.txt").write_text(f"{words} plain")
        else:
            (root / "texts" / f"{text_id}.xml").write_text(
                f'<document id="{text_id}" name="Title_{i}" cat="7">\n<text>\n{body}\n</text>\n'
                f'<imageset><image id="{image_id}">x.jpg</image></imageset>\n</document>\n')
        if images:
            image = rng.integers(0, 255, size=(48, 48, 3), dtype=np.uint8)
            cv2.circle(image, (24, 24), 8 + 6 * (category - 1), (255, 255, 255), -1)
            cv2.imwrite(str(root / "images" / CATEGORIES[category - 1] / f"{image_id}.jpg"), image)
        rows[split].append(f"{text_id}\t{image_id}\t{category}")
    (root / "trainset_txt_img_cat.list").write_text("\n".join(rows["train"]) + "\n")
    (root / "testset_txt_img_cat.list").write_text("\n".join(rows["test"]) + "\n")
    return root


def test_folder_loads_texts_images_labels_and_split(tmp_path):
    root = _write_folder(tmp_path)
    data = load_image_text_folder(root)
    assert list(data.frame.columns) == ["image", "text"]
    assert len(data.frame) == 10 and data.split.tolist() == ["train"] * 6 + ["test"] * 4
    assert data.target.tolist() == [0, 1] * 5
    assert data.target_names.tolist() == CATEGORIES
    assert data.n_lenient_xml == 4 and data.n_missing_images == 0  # docs 0, 3, 6, 9
    assert data.frame.text[0].strip() == "paint canvas museum & more\xa0text"
    assert data.frame.text[1].strip() == "goal match team & more"
    assert data.frame.text[4] == "paint canvas museum plain"
    assert data.titles[0] == "Title_0" and data.titles[4] == ""
    assert data.frame.image[3].endswith("images/sport/img3.jpg")
    test = load_image_text_folder(root, subset="test")
    assert test.text_ids.tolist() == ["doc6", "doc7", "doc8", "doc9"]


def test_lenient_reader_agrees_with_the_xml_parser():
    """On well-formed documents the regex + html.unescape path equals ElementTree."""
    document = ('<document id="a" name="Q&amp;A"><text>Tom &amp; Jerry &lt;3 &#169; '
                "caf\u00e9</text><imageset/></document>")
    strict = ET.fromstring(document)
    text, attributes, lenient = parse_document(document)
    assert not lenient and text == strict.find("text").text and attributes == strict.attrib
    broken = document.replace("&amp; Jerry", "& Jerry").replace("&#169;", "&copy;")
    text, attributes, lenient = parse_document(broken)
    assert lenient and text == "Tom & Jerry <3 \u00a9 caf\u00e9" and attributes["name"] == "Q&A"
    with pytest.raises(ValueError, match="no <text>"):
        parse_document("<document><oops & /></document>")


def test_missing_files_and_bad_lists(tmp_path):
    root = _write_folder(tmp_path)
    (root / "images" / "sport" / "img3.jpg").unlink()
    with pytest.raises(MediaError, match="image sample 3.*img3"):
        load_image_text_folder(root)
    data = load_image_text_folder(root, on_missing_image="none")
    assert data.frame.image[3] is None and data.n_missing_images == 1
    (root / "texts" / "doc5.xml").unlink()
    with pytest.raises(MediaError, match="text sample 5.*doc5"):
        load_image_text_folder(root, on_missing_image="none")
    (root / "texts" / "doc5.xml").write_text("<document><body>no text</body></document>")
    with pytest.raises(MediaError, match="text sample 5.*no <text> element"):
        load_image_text_folder(root, on_missing_image="none")


@pytest.mark.parametrize("content, error", [
    ("doc0\timg0\n", "expected text_id<TAB>image_id<TAB>category"),
    ("doc0\timg0\tart\n", "not an integer"),
    ("doc0\timg0\t3\n", "outside 1..2"),
    ("", "lists no documents"),
])
def test_bad_list_lines(tmp_path, content, error):
    root = _write_folder(tmp_path)
    (root / "trainset_txt_img_cat.list").write_text(content)
    with pytest.raises(ValueError, match=error):
        load_image_text_folder(root, subset="train")


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_text_folder(tmp_path / "nowhere")
    root = _write_folder(tmp_path / "a", images=False)
    with pytest.raises(FileNotFoundError, match="no images/ folder"):
        load_image_text_folder(root)
    (root / "categories.list").unlink()
    with pytest.raises(FileNotFoundError, match="categories.list"):
        load_image_text_folder(root, on_missing_image="none")
    with pytest.raises(ValueError, match="subset"):
        load_image_text_folder(root, subset="val")
    with pytest.raises(FileNotFoundError, match="raw_features.mat"):
        load_wikipedia(_write_folder(tmp_path / "b"))
    with pytest.raises(FileNotFoundError, match="not found"):
        load_wikipedia(tmp_path / "empty")


def test_load_wikipedia_reads_the_feature_matrices(tmp_path):
    from scipy.io import savemat

    root = _write_folder(tmp_path, images=False)
    rng = np.random.default_rng(0)
    features = {"I_tr": rng.random((6, 128)), "I_te": rng.random((4, 128)),
                "T_tr": rng.random((6, 10)), "T_te": rng.random((4, 10))}
    savemat(root / "raw_features.mat", features)
    data = load_wikipedia(root)
    np.testing.assert_allclose(data.image_features, np.vstack([features["I_tr"],
                                                               features["I_te"]]))
    assert data.text_tfidf is None and data.frame.image.isna().all()
    test = load_wikipedia(root, subset="test")
    np.testing.assert_allclose(test.text_features, features["T_te"])


@pytest.mark.realdata
def test_real_wikipedia_dataset(data_dir):
    from mmfuse.datasets import find_dataset

    if find_dataset("wikipedia_xmodal", data_dir) is None:
        pytest.skip("wikipedia_xmodal absent")
    data = load_wikipedia(data_dir)
    train, test = data.split == "train", data.split == "test"
    assert train.sum() == 2173 and test.sum() == 693
    assert data.n_lenient_xml == 888
    assert len(data.target_names) == 10 and data.target_names[0] == "art"
    assert data.image_features.shape == (2866, 128) and data.text_features.shape == (2866, 10)
    assert data.text_tfidf.shape == (2866, 1000)
    assert data.frame.text.str.len().min() > 100  # every document has real text
    # The authors' LDA features are topic proportions: rows sum to one.
    np.testing.assert_allclose(data.text_features.sum(axis=1), 1, atol=1e-4)
    assert np.bincount(data.target, minlength=10).min() > 0
