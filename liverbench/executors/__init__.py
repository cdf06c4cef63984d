"""The built-in backends (`local`, in-process; `ray`, a Ray cluster) and the units they run.

The protocol they implement is `liverbench.backend`; the run's flow above them is
`liverbench.scheduler`.
"""
