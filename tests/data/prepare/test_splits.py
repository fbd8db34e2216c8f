"""Split readers on small hand-written files in each official format."""

import pytest

from iastp_tf.data.prepare import splits


def _by_split(index):
    return {s: [(e.media_id, e.label_indices) for e in index.entries if e.split == s] for s in ("train", "test")}


def _assert_no_leak(index):
    train = {e.media_id for e in index.entries if e.split == "train"}
    test = {e.media_id for e in index.entries if e.split == "test"}
    assert train and test and not train & test


def test_ucf101(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 HandstandPushups\n3 YoYo\n")
    (tmp_path / "trainlist02.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n"
        "HandstandPushups/v_HandStandPushups_g08_c01.avi 2\r\n"
        "\n"
        "YoYo/v_YoYo_g08_c01.avi 9\n"            # unknown class index
        "YoYo/v_YoYo_g09_c01.avi 1\n"            # index disagrees with the folder
        "this line is broken\n"                 # unreadable
        "YoYo/v_YoYo_g10_c01.avi 3\n"
    )
    (tmp_path / "testlist02.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\n"
        "handstandpushups/v_HandStandPushups_g01_c02.avi\n"  # class matched without case
        "Unknown/v_Unknown_g01_c01.avi\n"
    )
    index = splits.read_ucf101(str(tmp_path), 2)
    assert index.class_names == ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
    assert _by_split(index) == {
        "train": [
            ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", (0,)),
            ("HandstandPushups/v_HandStandPushups_g08_c01", (1,)),
            ("YoYo/v_YoYo_g10_c01", (2,)),
        ],
        "test": [
            ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01", (0,)),
            ("handstandpushups/v_HandStandPushups_g01_c02", (1,)),
        ],
    }
    assert index.entries[0].source == "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"
    reasons = sorted(f.reason.split(" ")[0] + " " + f.reason.split(" ")[1] for f in index.failures)
    assert reasons == ["class index", "unknown class", "unknown class", "unreadable line"]
    assert all("\t" in f.line() and "\n" not in f.line() for f in index.failures)
    _assert_no_leak(index)
    with pytest.raises(FileNotFoundError):
        splits.read_ucf101(str(tmp_path), 1)
    with pytest.raises(ValueError, match="split"):
        splits.read_ucf101(str(tmp_path), 4)


def test_ucf101_rejects_a_test_video_in_train(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 A\n")
    (tmp_path / "trainlist01.txt").write_text("A/v_A_g01_c01.avi 1\n")
    (tmp_path / "testlist01.txt").write_text("A/v_A_g01_c01.avi\n")
    with pytest.raises(ValueError, match="both"):
        splits.read_ucf101(str(tmp_path), 1)


def test_hmdb51_tags(tmp_path):
    folder = tmp_path / "testTrainMulti_7030_splits"
    folder.mkdir()
    (folder / "brush_hair_test_split1.txt").write_text(
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n"
        "April_09_brush_hair_u_nm_np1_ba_goo_1.avi 2 \n"
        "April_09_brush_hair_u_nm_np1_ba_goo_2.avi 0 \n"
    )
    (folder / "cartwheel_test_split1.txt").write_text("c_0.avi 2\nc_1.avi 1\nc_2.avi 7\n")
    (folder / "cartwheel_test_split2.txt").write_text("c_0.avi 1\nc_1.avi 2\n")
    index = splits.read_hmdb51(str(tmp_path), 1)
    assert index.class_names == ["brush_hair", "cartwheel"]
    assert _by_split(index) == {
        "train": [("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0", (0,)), ("cartwheel/c_1", (1,))],
        "test": [("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_1", (0,)), ("cartwheel/c_0", (1,))],
    }
    assert [f.item for f in index.failures] == ["cartwheel_test_split1.txt:3"]
    _assert_no_leak(index)
    split2 = splits.read_hmdb51(str(tmp_path), 2)
    assert [e.split for e in split2.entries] == ["train", "test"]


def test_kinetics400(tmp_path):
    (tmp_path / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,---QUuC4vJs,84,94,train\n"
        '"passing American football (in game)",--6bJUbfpnQ,17,27,train\n'
        "abseiling,--33Lscn6sk,4,14,train\n"
        "abseiling,broken\n"
    )
    (tmp_path / "validate.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,0wR5jVB-WPk,417,427,val\n"
        "zumba,zzzzzzzzzzz,1,11,val\n"
    )
    index = splits.read_kinetics400(str(tmp_path))
    assert index.class_names == ["abseiling", "passing American football (in game)"]
    assert _by_split(index) == {
        "train": [("---QUuC4vJs_000084_000094", (0,)), ("--6bJUbfpnQ_000017_000027", (1,)),
                  ("--33Lscn6sk_000004_000014", (0,))],
        "test": [("0wR5jVB-WPk_000417_000427", (0,))],
    }
    assert index.entries[0].aliases == ("---QUuC4vJs",)
    assert sorted(f.reason.split(" ")[0] for f in index.failures) == ["unknown", "unreadable"]
    _assert_no_leak(index)


def test_charades_multi_label(tmp_path):
    header = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"
    (tmp_path / "Charades_v1_train.csv").write_text(
        header
        + '46GP8,HR43,Kitchen,6,7,Yes,"A person cooks.",food,"A person cooks.",'
        + '"c092 11.90 21.20;c147 0.00 12.60",24.83\n'
        + "N11GT,0KZ7,Stairs,6,7,Yes,x,y,z,c098 8.60 14.20;c075 0.00 13.20;c098 20.0 22.0,14.25\n"
        + "EMPTY,0KZ7,Stairs,6,7,Yes,x,y,z,,14.25\n"
        + "BAD01,0KZ7,Stairs,6,7,Yes,x,y,z,c999 1 2,14.25\n"
    )
    (tmp_path / "Charades_v1_test.csv").write_text(header + "YSKX3,HR43,Hall,6,7,Yes,x,y,z,c000 0.0 3.0,9.0\n")
    (tmp_path / "Charades_v1_classes.txt").write_text("c000 Holding some clothes\nc092 Cooking\n")
    index = splits.read_charades(str(tmp_path))
    assert index.multi_label and len(index.class_names) == 157
    assert index.class_names[0] == "Holding some clothes" and index.class_names[1] == "c001"
    assert _by_split(index) == {
        "train": [("46GP8", (92, 147)), ("N11GT", (75, 98)), ("EMPTY", ())],
        "test": [("YSKX3", (0,))],
    }
    assert index.entries[0].label_names == ("Cooking", "c147")
    assert index.entries[0].source == "46GP8.mp4"
    assert [(f.item, f.reason) for f in index.failures] == [("BAD01", "unknown class 'c999'")]
    _assert_no_leak(index)


def test_folder_with_and_without_split_folders(tmp_path):
    for name in ("b_class/x1.mp4", "b_class/x2.avi", "b_class/deep/x3.mp4", "a_class/y1.avi", "a_class/y2.avi",
                 "a_class/notes.txt", "loose.mp4"):
        (tmp_path / "flat" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "flat" / name).write_bytes(b"")
    index = splits.read_folder(str(tmp_path / "flat"), test_fraction=0.5)
    assert index.class_names == ["a_class", "b_class"]
    # Every second video of each class (by sorted path) is held out.
    assert _by_split(index) == {
        "train": [("a_class/y1", (0,)), ("b_class/deep/x3", (1,)), ("b_class/x2", (1,))],
        "test": [("a_class/y2", (0,)), ("b_class/x1", (1,))],
    }
    assert [(f.item, f.reason) for f in index.failures] == [("loose.mp4", "not inside a class folder")]

    for name in ("train/cat/1.avi", "train/dog/2.avi", "test/dog/3.avi"):
        (tmp_path / "split" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "split" / name).write_bytes(b"")
    index = splits.read_folder(str(tmp_path / "split"))
    assert _by_split(index) == {"train": [("train/cat/1", (0,)), ("train/dog/2", (1,))],
                                "test": [("test/dog/3", (1,))]}


def test_read_dataset_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="dataset"):
        splits.read_dataset("ucf", str(tmp_path))


def test_folder_rejects_two_sources_with_one_media_id(tmp_path):
    for name in ("cats/x.mp4", "cats/x.avi", "dogs/y.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"not read")
    with pytest.raises(ValueError, match=r"cats/x\.avi and cats/x\.mp4 would both get the media id 'cats/x'"):
        splits.read_folder(str(tmp_path), test_fraction=0)
