"""URL slugs for titles."""


def slugify(title):
    cleaned = "".join(c for c in title.lower() if c.isalnum() or c == " ")
    return "_".join(cleaned.split())
