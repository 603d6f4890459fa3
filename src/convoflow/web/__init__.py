"""The browser app's files: ``static/`` holds index.html, the app's ES modules and styles, and
the vendored third-party browser builds (``static/vendor/``, see ``manifest.json``).

Nothing here is Python code to import: :mod:`convoflow.api.web` serves these files.
"""
