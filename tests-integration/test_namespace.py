def test_proxyflow_is_a_pep420_namespace() -> None:
    import proxyflow

    assert proxyflow.__file__ is None
    assert len(list(proxyflow.__path__)) >= 2  # several distributions share it
