def test_fixture(data_root):
    assert data_root.startswith(("file://", "s3://"))
