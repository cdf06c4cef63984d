"""The backends: the protocol (`base`) and the built-ins (`local`, in-process; `ray`, a Ray
cluster, with its reaper). The units they run are `liverbench.run.units`; the run's flow above
them is `liverbench.run.scheduler`.
"""
