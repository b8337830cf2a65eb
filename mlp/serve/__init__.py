"""Serving the dashboard to a class: what a Voila server needs beyond its defaults.

The server's settings themselves live where Voila and Jupyter read them:
``voila.json`` (the README's ``voila notebooks/10_draw_a_digit.ipynb``) and
``jupyter-config/jupyter_server_config.d/mlp-from-scratch.json`` (JupyterLab's
"Open with Voilà" and Binder), beside the page template in
``share/jupyter/voila/templates/mlp-dashboard``. This package holds the one
piece of them that is code: ``websocket.SafeKernelConnection``, which keeps a
crafted websocket message from freezing the server.
"""
