"""flowsite's pure core: no Django, no I/O. Symbols, rules, the shape of a trade."""
