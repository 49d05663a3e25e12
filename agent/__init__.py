"""viragent.agent — joins a policy to an environment: the LangGraph loop, policies, trajectory logs, CLI."""

from .graph import AgentContext, EpisodeState, build_agent_graph
from .policies import ExpertPolicy, Policy, PolicyOutput, RandomPolicy, make_policy
from .runner import RunConfig, RunResult, run_episodes
from .trajectory import Episode, Run, RunWriteError, RunWriter, Step, load_run

__all__ = ["AgentContext", "EpisodeState", "build_agent_graph", "ExpertPolicy", "Policy", "PolicyOutput",
           "RandomPolicy", "make_policy", "RunConfig", "RunResult", "run_episodes", "Episode", "Run",
           "RunWriteError", "RunWriter", "Step", "load_run"]
