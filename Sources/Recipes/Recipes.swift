// Recipes: see issue 5.
