"""The problem model, the one evaluator and the solver contract.

`problem` turns a wire message into an immutable `Problem` of NumPy arrays (validated,
with errors that name the field); `evaluate` is the only function that scores a schedule;
`solver` is the shape every solver has; `options` declares solver options once; `registry`
finds solvers by name; `validation` checks a solve request at the API boundary.
Nothing here imports the search machinery, the formats, the solvers or the service.
"""
