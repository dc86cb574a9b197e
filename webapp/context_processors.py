from webapp.jobkinds import KINDS


def nav_tools(request) -> dict:
    """The tools in the top bar: every registered job kind that has a start page."""
    return {"nav_tools": [k for k in KINDS.values() if k.new_url_name]}
