"""Avatar creation (photo -> stylised -> rigged GLB) as a background job. Not built yet."""
