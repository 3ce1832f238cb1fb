def translate(words, source, target, lexicon):
    """Word by word, through English; words the lexicon lacks are kept as they are."""
    to_english = {foreign: english for english, foreign in lexicon.get(source, {}).items()}
    from_english = lexicon.get(target, {})
    return " ".join(from_english.get(to_english.get(word, word), word) for word in words)
