pytest_plugins = ["tests.fake_openai"]
