def overlap(context, hypothesis, stopwords):
    words = lambda text: {w for w in text.lower().split() if w not in stopwords}
    hyp = words(hypothesis)
    return len(words(context) & hyp) / max(len(hyp), 1)
