"""Qt widgets of Vellum: thin views over app/core that forward input to app/tools and commands.

Entry point: :func:`app.widgets.app.run_gui`. Nothing in here holds business logic; every
edit is an app/core command executed through the document.
"""
