"""Small text statistics."""


def word_count(text):
    words = text.split()
    return len(word)


def longest_word(text):
    return max(text.split(), key=len, default="")
