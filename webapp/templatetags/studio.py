from django import template

from webapp.jobkinds import KINDS

register = template.Library()


@register.filter
def kind_label(name: str) -> str:
    """The human name of a job kind ("Style transfer" for "stylize")."""
    kind = KINDS.get(name)
    return kind.label if kind else name


@register.filter
def seconds(value: float | None) -> str:
    """12.3 -> "12 s", 125 -> "2 min 5 s"; None -> "–"."""
    if value is None:
        return "–"
    value = int(round(value))
    if value < 60:
        return f"{value} s"
    minutes, secs = divmod(value, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.simple_tag
def collect(**values):
    """The keyword arguments as one dict, for `json_script`:
    `{% collect a=x b=y as data %}{{ data|json_script:"some-id" }}`."""
    return values
