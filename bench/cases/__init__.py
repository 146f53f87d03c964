"""One module per benchmark; each has `async def run(context) -> BenchResult`."""
