"""The error every builder raises for bad input, naming the database, file and row."""


class BadInputError(ValueError):
    """Bad input in a database's files; the message names the file and the row."""
