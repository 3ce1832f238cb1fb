def split_words(text):
    return text.lower().split()
