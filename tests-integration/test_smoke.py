def test_namespace_is_pep420() -> None:
    import proxyflow

    assert proxyflow.__file__ is None
