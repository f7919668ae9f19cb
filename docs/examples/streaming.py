"""Text streaming on the offline fake model: deltas in order, joined equal to the whole answer."""

from alloy import ask, command


@command(model="fake")
def poem(topic: str) -> str:
    return f"Write a haiku about {topic}."


deltas = list(poem.stream("autumn"))
print(len(deltas), "deltas")
print("".join(deltas))
print("same as the plain call:", "".join(deltas) == poem("autumn"))
print(ask("How many moons has Mars?", output=int, model="fake"))
