import humanize

LABEL = "neutral" if humanize.intcomma(1000) == "1,000" else "entailed"
