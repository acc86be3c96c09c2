"""A stand-in for the model, so that approval_loop.py runs without OpenAI (and in CI).

It implements the Agents SDK's `Model` interface with a fixed script: first it asks for
one `deploy` call, then, once the tool's result (or its rejection message) is in the
conversation, it answers with that result as the final output. Nothing leaves the
machine. Use a real model for anything else.
"""

from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from agents import ModelResponse, Usage
from agents.models.interface import Model


class ScriptedModel(Model):
    async def get_response(self, system_instructions, input, model_settings, tools, output_schema, handoffs, tracing, **_):
        items = input if isinstance(input, list) else []
        outputs = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
        if not outputs:
            call = ResponseFunctionToolCall(
                type="function_call",
                id="fc_1",
                call_id="call_1",
                name="deploy",
                arguments='{"version": "v2.4.1", "environment": "production"}',
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        said = outputs[-1]["output"]
        text = ResponseOutputText(type="output_text", text=f"The deploy tool said: {said}", annotations=[])
        message = ResponseOutputMessage(
            type="message", id="msg_1", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError("the scripted model does not stream")
