"""``.venv/bin/python bench/email.py``: the email-to-list benchmark, kept in ``mailbench.py`` (see there).

Every benchmark runs with this folder first on ``sys.path``, where this file stands in the way of the standard
library's ``email`` package, which httpx, redis-py and smtplib import. So when it is imported as ``email`` it loads
that package and puts it in its own place; run as a script, it runs the benchmark.
"""

import sys

if __name__ == "__main__":
    from mailbench import main

    main()
else:
    import importlib.machinery
    import importlib.util
    import sysconfig

    _spec = importlib.machinery.PathFinder.find_spec("email", [sysconfig.get_path("stdlib")])
    assert _spec is not None and _spec.loader is not None, "the standard library has no email package"
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["email"] = _module  # what the import that found this file returns
    _spec.loader.exec_module(_module)
