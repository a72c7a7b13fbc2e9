"""The web UI and the EMS REST API: bottle on cheroot, in its own threads, through a facade."""
