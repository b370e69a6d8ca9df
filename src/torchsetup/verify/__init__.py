"""``torchsetup verify``: prove that torch works in a target interpreter.

The Python API ``install`` (and anyone else) calls::

    from torchsetup.verify.model import VerifyOptions
    from torchsetup.verify.runner import run_verify

    result = run_verify("/path/to/venv/bin/python")            # quick: import, build, one op
    result = run_verify(python, VerifyOptions(
        mode="full", require_gpu=True,
        expect=parse_expectations(torch="==2.11.0", variant="cu130")))
    result.ok, result.exit_code, result.torch, result.checks, result.to_json()

torch is never imported here: the checks run in a subprocess of the target (smoke.py).
"""

# Empty on purpose (as every stage package's __init__): importing one module of the stage
# does not import the stage, and verify.runner can import its siblings without a cycle.
